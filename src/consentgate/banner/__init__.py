"""The consent banner: templates, texts, script and style."""
