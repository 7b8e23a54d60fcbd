"""What inspectors and platforms receive."""
