pub mod vmcore;
