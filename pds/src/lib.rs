//! Hearth pds
