ByzJ
