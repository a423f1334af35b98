//! refresh-coordinator
