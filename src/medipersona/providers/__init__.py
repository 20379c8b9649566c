"""AI providers: one small async interface (stream structured text, make an image), one class per provider."""
