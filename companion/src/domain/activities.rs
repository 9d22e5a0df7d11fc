//! Activities (filled in after the skeleton).
