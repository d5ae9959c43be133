"""The web console (issue 19): another client of the service, in the service's own process.

`create_app` (app.py) builds the Starlette app; `auth.py` authenticates sessions and hands
each request `request.state.call`, which runs `vault.service.api.run` for the logged-in
principal under the one policy; `core_pages.py` serves login, 待审批 and 查阅登记簿, and
`vault.web.pages` the other pages. Every script, style sheet and font is in static/.
"""
