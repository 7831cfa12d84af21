"""kureval.reference"""
