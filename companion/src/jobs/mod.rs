//! Background jobs that every replica runs on a timer, each pass a function of "now" that
//! tests call directly: [`alarms`].

pub mod alarms;
