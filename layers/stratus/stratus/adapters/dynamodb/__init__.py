"""The metadata store on one DynamoDB table: `store.DynamoDBMetadataStore` (layout and design:
docs/vector-stores.md, "Metadata store: DynamoDB")."""
