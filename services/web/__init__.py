"""The web app (issue 9): server-rendered pages in Vietnamese (English on request) for committees and cell
secretaries, a client of the three services' public JSON APIs with the signed-in user's own token."""
