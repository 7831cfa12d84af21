"""kureval.selfrating"""
