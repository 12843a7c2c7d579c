"""Pure rules of managed content, no I/O: how objects, tasks and documents are named
(`object_keys`), what a stored object holds (`content`) and the records written for it
(`object_records`)."""
