//! Deadlines of every open stage, and the sweeper that reminds and reports them (R13.1, R14.4).
