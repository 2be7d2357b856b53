"""Optional bridges to other frameworks (each guarded: it names the extra to install)."""
