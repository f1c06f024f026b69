"""One agent's turn: prompt, model stream, tool calls."""
