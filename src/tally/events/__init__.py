"""Events: the schema, strict validation with typed rejection reasons, and encoding."""
