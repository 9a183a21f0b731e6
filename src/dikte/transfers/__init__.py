"""Files coming in: chunked uploads (to the drive or a runtime's /content) and notebook imports."""
