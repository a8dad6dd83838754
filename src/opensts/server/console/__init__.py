"""The web console's HTTP edge: pages (``pages.py``), their security headers and cookies
(``security.py``), and the signed API calls the pages are made of (``api_calls.py``)."""
