"""Resumable uploads over tus 1.0 (https://tus.io/protocols/resumable-upload):
the browser's uploader sends a file in pieces that survive a dropped line, a
closed tab or a restart, into the same encrypted vault path a form takes."""
