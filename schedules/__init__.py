"""What plays when: pure scheduling logic shared by the controller and the agents."""
