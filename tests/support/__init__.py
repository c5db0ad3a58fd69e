"""What several test modules share, in one copy: trip documents, amazon_kclpy's inputs,
the record processor's collaborators, the fence in pure Python, the DynamoDB tables'
expected and actual totals, and readers of the synthesized CloudFormation templates.

Test modules import from here (and from their folder's conftest.py), never from one another.
"""
