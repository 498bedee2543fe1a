
*€x€ðBtyped_float16