"""One module per analysis; each has one public function that returns a DataFrame."""
