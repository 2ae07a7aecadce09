"""`python -m codemode.demo`: run the demo MCP server (see `python -m codemode.demo --help`)."""

from codemode.demo import main

if __name__ == "__main__":
    main()
