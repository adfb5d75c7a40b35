"""Electronic signatures: the signature page added to a signed document and
the firm's digital seal that shows whether the file changed afterwards."""
