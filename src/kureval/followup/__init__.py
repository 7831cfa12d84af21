"""kureval.followup"""
