package playground

// DefaultExamples are example operations against this API, opened as the IDE's first tabs.
// Each is a named operation so that its tab carries a readable title.
func DefaultExamples() []Tab {
	return []Tab{
		{
			Name: "Browse products",
			Query: `query Browse {
  products(first: 10, orderBy: {field: CREATED_AT, direction: DESC}) {
    totalCount
    edges {
      node {
        id
        title
        kind
        merchant { name }
        variants {
          sku
          price { amount currency formatted }
          stock
          available
        }
      }
    }
    pageInfo { hasNextPage endCursor }
  }
}
`,
		},
		{
			Name: "Categories",
			Query: `query Categories {
  categories {
    id
    name
    nameEn
    children { id name nameEn }
  }
}
`,
		},
		{
			Name: "Sign up",
			Query: `mutation Register($input: RegisterInput!) {
  register(input: $input) {
    accessToken
    refreshToken
    expiresAt
    user { id email displayName roles }
  }
}
`,
			Variables: `{
  "input": {
    "email": "you@example.com",
    "password": "correct horse battery",
    "displayName": "You"
  }
}
`,
		},
		{
			Name: "Sign in",
			Query: `mutation Login($input: LoginInput!) {
  login(input: $input) {
    accessToken
    refreshToken
    user { id email roles }
  }
}
`,
			Variables: `{
  "input": {
    "email": "you@example.com",
    "password": "correct horse battery"
  }
}
`,
		},
		{
			Name: "Verify email",
			Query: `# The code is in the message sent on sign-up: in development, in the
# outbox directory under XIADAN_DATA_DIR (the server logs each file).
mutation VerifyEmail($code: String) {
  verifyEmail(code: $code) {
    email
    user { id emailVerified }
  }
}
`,
			Variables: `{
  "code": "123456"
}
`,
			Headers: `{
  "Authorization": "Bearer PASTE_ACCESS_TOKEN"
}
`,
		},
		{
			Name: "Who am I",
			Query: `query WhoAmI {
  me {
    id
    email
    emailVerified
    displayName
    roles
    merchant { id name status }
  }
}
`,
			Headers: `{
  "Authorization": "Bearer PASTE_ACCESS_TOKEN"
}
`,
		},
	}
}
