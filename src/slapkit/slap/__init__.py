"""What speaks SlapOS: instance parameters, the master, schemas."""
