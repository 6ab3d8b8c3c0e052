"""Data bundled with soundmatch (gm_notes) and the scripts that regenerate it."""
