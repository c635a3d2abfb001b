//! Hearth appview
