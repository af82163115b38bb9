"""Dead-letter ids in URLs are bounded like every row id (issue 13: an overflowing id was a 500)."""


def test_a_dead_letter_id_beyond_any_row_is_a_clear_error(client, auth):
    response = client.post("/api/notify/dead-letters/9223372036854775808/retry", headers=auth)
    assert response.status_code == 422
    assert client.post("/api/notify/dead-letters/2147483647/retry", headers=auth).status_code == 404
