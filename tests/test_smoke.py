def test_questions_page_renders(client, make):
    author = make.user(name="Ada Lovelace")
    make.question(author, subject="How do recordings work?")
    response = client.get("/questions")
    assert response.status_code == 200
    assert "How do recordings work?" in response.get_data(as_text=True)
