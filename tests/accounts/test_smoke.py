def test_health_needs_no_login(client, db):
    response = client.get("/api/health")
    assert response.status_code == 200
    assert response.json()["status"] == "ok"


def test_viewer_write_is_refused(api_client):
    viewer = api_client("viewer")
    response = viewer.post(
        "/api/v1/users", {"username": "x", "roles": ["viewer"]}, content_type="application/json"
    )
    assert response.status_code == 403
    assert response.json()["error"]["code"] == "forbidden"
