export * from '@apigate/test-utils/http';
