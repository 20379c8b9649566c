"""Server-rendered Japanese pages: the shared Jinja2 environment, layout and static assets."""
