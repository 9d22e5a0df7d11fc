//! `pecdesk simulate`: the simulator as a process.
