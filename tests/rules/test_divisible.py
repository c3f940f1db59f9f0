from booking.rules.divisible import leaves

# hall(1) = court A(2) + court B(3); court A = halves 4 and 5; a separate room 6.
TREE = {1: None, 2: 1, 3: 1, 4: 2, 5: 2, 6: None}


def test_a_leaf_is_its_own_leaf():
    assert leaves(6, TREE) == [6]
    assert leaves(3, TREE) == [3]


def test_a_parent_expands_to_every_leaf_beneath_it():
    assert leaves(1, TREE) == [3, 4, 5]
    assert leaves(2, TREE) == [4, 5]
