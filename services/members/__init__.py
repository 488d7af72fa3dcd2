"""Members service: the organisation tree and the member register (sổ đảng viên)."""
