def test_landing_page_invites_to_join(client, db):
    """The public landing page explains the program and links to sign-up."""
    response = client.get("/")
    assert response.status_code == 200
    assert b"/accounts/signup/" in response.content


def test_landing_page_states_the_earn_rate_in_ringgit_with_the_right_plural(client, db):
    """One point per RM 1.00 reads in the singular, with the currency's symbol;
    two points read in the plural."""
    from loyalty.actors import Actor
    from loyalty.services import program_settings_update

    assert "Earn 1 point for every RM1.00 you spend" in client.get("/").content.decode()
    program_settings_update(actor=Actor(), earn_points=2)
    assert "Earn 2 points for every RM1.00 you spend" in client.get("/").content.decode()
