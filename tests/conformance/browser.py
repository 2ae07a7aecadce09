#!/usr/bin/env python3
"""A stand-in for a person's browser, for `$BROWSER`: fetch the URL it is given and follow the
redirects, as a browser does when the authorization server signs the person in at once. The
last redirect lands on codemode's loopback listener, which ends the sign-in. Standard library
only; exits non-zero when a request fails, as a browser that could not open the page would."""

import sys
import urllib.request

with urllib.request.urlopen(sys.argv[1], timeout=30) as answer:  # follows 302s to the loopback
    answer.read()
