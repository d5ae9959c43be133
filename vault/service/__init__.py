"""The vault as a service: the one API (`api`), the one policy (`policy`), the Unix-socket
server (`server`) and in-process calls for the vault's own account (`local`)."""
