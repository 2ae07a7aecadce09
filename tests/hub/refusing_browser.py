#!/usr/bin/env python3
"""A stand-in for a browser whose person refuses to sign in, for `$BROWSER`: it lands on
codemode's loopback redirect URI with the error an authorization server sends then
(`error=access_denied`, RFC 6749 section 4.1.2.1). Standard library only."""

import sys
import urllib.error
import urllib.parse
import urllib.request

query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(sys.argv[1]).query))
answer = {"error": "access_denied", "error_description": "the person said no", "state": query.get("state", "")}
try:
    with urllib.request.urlopen(f"{query['redirect_uri']}?{urllib.parse.urlencode(answer)}", timeout=30) as page:
        page.read()
except urllib.error.HTTPError:
    pass  # the loopback page answers 400 to a failed sign-in, as it should
