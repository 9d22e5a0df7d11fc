//! Tolerant parser of `daticert.xml` (the certification data of a PEC; DTD in `PEC.md`).
