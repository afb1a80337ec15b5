def test_x():
    import integrations.base
