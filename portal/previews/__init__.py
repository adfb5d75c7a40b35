"""Safe previews of untrusted uploads: pixels only, rendered in a sandboxed child process."""
