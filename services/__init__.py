"""chibo's services (members, meetings, reporting) and the code that composes and runs them."""
