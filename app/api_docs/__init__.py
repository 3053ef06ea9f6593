"""The API's interactive documentation (Swagger UI), served from the app's own files."""
