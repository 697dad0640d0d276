"""An instance's parameters: where they come from (a file, the SlapOS
master) and their JSON Schema."""
