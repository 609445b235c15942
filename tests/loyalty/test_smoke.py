def test_landing_page_invites_to_join(client, db):
    """The public landing page explains the program and links to sign-up."""
    response = client.get("/")
    assert response.status_code == 200
    assert b"/accounts/signup/" in response.content
