"""Conclave as an MCP server (the official `mcp` SDK): the tools (`tools.py`) on stdio
(`conclave mcp`, `stdio.py`) and on the gateway at `/mcp` (streamable HTTP, `http.py`)."""
