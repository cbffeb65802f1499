"""What the pytest plugin is made of: the `FakeLLM` a test gets, and the plugin's settings."""
