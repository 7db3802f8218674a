export * from '@apigate/test-utils/printed';
